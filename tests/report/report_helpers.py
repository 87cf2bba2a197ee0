"""Helpers for the report tests: the warning the image run carries, and a small page parser."""

from __future__ import annotations

from html.parser import HTMLParser

# A warning with markup in it: the page must show it as text, not as HTML.
EVENT = {
    "step": 4,
    "kind": "d_overpowering",
    "message": "the discriminator overpowers <b>G</b> & more",
    "values": {"d_acc": 0.995, "logit_gap": 6.5},
}


class Page(HTMLParser):
    """The parts of a report the tests look at: section ids, <img> srcs, all tags' attributes, text."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.sections: dict[str, list[str]] = {}  # id -> img srcs inside it
        self.section_text: dict[str, str] = {}
        self.imgs: list[str] = []
        self.attrs: list[tuple[str, str, str]] = []  # (tag, attribute, value)
        self.tags: list[str] = []
        self.pre: list[str] = []
        self.title = ""
        self._section: str | None = None
        self._in: list[str] = []
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self._in.append(tag)
        values = {k: v or "" for k, v in attrs}
        self.attrs += [(tag, k, v) for k, v in values.items()]
        if tag == "section":
            self._section = values.get("id", "")
            self.sections[self._section] = []
            self.section_text[self._section] = ""
        if tag == "img":
            self._in.pop()  # void element
            self.imgs.append(values.get("src", ""))
            if self._section is not None:
                self.sections[self._section].append(values.get("src", ""))
        if tag == "pre":
            self.pre.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "section":
            self._section = None
        if self._in and self._in[-1] == tag:
            self._in.pop()

    def handle_data(self, data: str) -> None:
        if self._section is not None:
            self.section_text[self._section] += data
        if self._in and self._in[-1] == "pre":
            self.pre[-1] += data
        if self._in and self._in[-1] == "title":
            self.title += data
