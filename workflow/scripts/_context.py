"""What the stats and estimator rule scripts share: the rule's log, the source and its data label, and
writing Markdown tables and figures (a skipped analysis, or a drawing error, gives a placeholder)."""

from __future__ import annotations

import logging

from _common import setup

from dlenergy import figures as F
from dlenergy.io import dataset_label, write_text
from dlenergy.stats import markdown_document


class ScriptContext:
    def __init__(self, smk):
        self.smk = smk
        self.log = setup(smk)
        logging.getLogger("fontTools").setLevel(logging.WARNING)
        logging.getLogger("matplotlib").setLevel(logging.WARNING)
        self.source = smk.params.source
        self.label = dataset_label(smk.input.dataset)
        F.setup()

    def markdown(self, name: str, title: str, sections, notes=None) -> None:
        text = markdown_document(title, sections, label=self.label, source=self.source, notes=list(notes or []))
        write_text(text, self.smk.output[f"{name}_md"])

    def figure(self, name: str, make, *, title: str, reason: str | None = None, note: str | None = None) -> None:
        """Draw with ``make()``; a skipped analysis (``reason``) or a drawing error gives a placeholder."""
        F.draw_or_placeholder(
            make,
            title=title,
            reason=reason,
            pdf=self.smk.output[f"{name}_pdf"],
            png=self.smk.output[f"{name}_png"],
            source=self.source,
            label=self.label,
            note=note,
            log=self.log,
        )
