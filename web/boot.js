// Tells the voter, in both languages, when the page's modules could not load (old
// browser, blocked script, missing cryptography library) instead of a silent blank page.
setTimeout(function () {
  if (window.__ballotchainReady) return;
  var p = document.getElementById('boot-msg');
  if (p) {
    p.textContent = 'ページの読み込みに時間がかかっています。再読み込みしてください。 / ' +
      'The page is taking long to load. Please reload it.';
  }
}, 15000);
