"""``election result --plot``: one chart per contest (matplotlib, the ``plot`` extra).

Single and multiple choice: a bar per option, with its share of the ballots counted.
Rating: per item, a histogram of how many voters gave each level 0..100, with the
mean marked. Every text of the chart (titles, axes, legend) is in the chosen language.
Japanese needs a CJK font: the Noto CJK files Debian's fonts-noto-cjk installs are
registered with matplotlib even when its font cache missed them; without any CJK
font the chart falls back to English rather than drawing empty boxes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ballot_tx.crypto.decryption import TallyResult
from ballot_tx.crypto.summary import summarize
from ballot_tx.errors import ErrorCode
from ballot_tx.manifest import RATING_LEVELS, Label, Manifest, scale_ends
from ballot_tx.yomi import plain
from cli.common import fail
from cli.i18n import _

CJK_FONTS = ("Noto Sans CJK JP", "Noto Sans JP", "IPAexGothic", "IPAGothic", "TakaoGothic",
             "VL Gothic", "Hiragino Sans", "Yu Gothic", "Droid Sans Fallback")


#: Font files registered if matplotlib's cache does not list a CJK family.
CJK_FILES = ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
             "/usr/share/fonts/truetype/noto/NotoSansCJK-Regular.ttc")


def _cjk_font() -> str | None:
    from matplotlib import font_manager

    names = {f.name for f in font_manager.fontManager.ttflist}
    found = next((n for n in CJK_FONTS if n in names), None)
    if found is None:
        for path in CJK_FILES:
            if Path(path).is_file():
                font_manager.fontManager.addfont(path)
                return font_manager.FontProperties(fname=path).get_name()
    return found


def plot_result(m: Manifest, r: TallyResult, out: Path, lang: str = "en") -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        fail(ErrorCode.USAGE, "--plot needs matplotlib: pip install -e '.[plot]' "
             "(or run scripts/demo, which installs it)")
    from cli.i18n import speaking

    if lang == "ja":
        font = _cjk_font()
        if font is None:
            lang = "en"
        else:
            plt.rcParams["font.family"] = font

    with speaking(lang):  # the figure's words; the process keeps its own language
        _draw(m, r, out, lang, plt)


def _draw(m: Manifest, r: TallyResult, out: Path, lang: str, plt: Any) -> None:
    def label(lbl: Label) -> str:
        return plain(lbl.ja) if lang == "ja" else lbl.en

    # (kind, title, data, mean): a rating's histogram, or the bars' (names, counts)
    panels: list[tuple[str, str, Any, float | None]] = []
    for c, cr in zip(m.contests, summarize(m, r), strict=True):
        if c.kind == "rating":
            low, high = scale_ends(c)
            axis = _("rating (0: {low}, 100: {high})").format(low=label(low), high=label(high))
            for o, hist, mean in zip(c.options, cr.histograms, cr.means, strict=True):
                panels.append(("rating", f"{label(c.title)}: {label(o.label)}", (hist, axis), mean))
        else:
            panels.append(("bars", label(c.title), ([label(o.label) for o in c.options],
                                                     cr.counts), None))
    fig, axes = plt.subplots(len(panels), 1, figsize=(8, 3.2 * len(panels)), squeeze=False)
    from matplotlib.ticker import MaxNLocator

    for ax, (kind, title, data, mean) in zip(axes[:, 0], panels, strict=True):
        ax.set_title(title)
        (ax.yaxis if kind == "rating" else ax.xaxis).set_major_locator(MaxNLocator(integer=True))
        if kind == "rating":
            hist, axis = data
            ax.bar([str(v) for v in RATING_LEVELS], hist, color="#4c72b0")
            ax.set_xlabel(axis)
            ax.set_ylabel(_("voters"))
            if mean is not None:
                ax.axvline(mean / 10, color="#c44e52", linestyle="--",
                           label=_("mean {mean}").format(mean=f"{mean:.1f}"))
                ax.legend()
        else:
            names, counts = data
            bars = ax.barh(names[::-1], counts[::-1], color="#55a868")
            ax.bar_label(bars, labels=[f"{n} ({n / (r.ballots or 1):.0%})" for n in counts[::-1]],
                         padding=3)
            ax.set_xlabel(_("votes (share of the {n} ballots counted)").format(n=r.ballots))
            ax.margins(x=0.2)
    fig.suptitle(_("{title} ({n} ballots counted)").format(title=label(m.title), n=r.ballots))
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)
