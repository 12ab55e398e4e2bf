// libsodium (wasm), loaded once. In Node it resolves from web/node_modules; in the
// browser the page's import map points the bare names at the copies that the node
// serves under /vote/vendor/ (see web/README.md), so the same modules run in both.
import _sodium from 'libsodium-wrappers-sumo';

await _sodium.ready;

export const sodium = _sodium;
