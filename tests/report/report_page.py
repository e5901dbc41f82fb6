"""The report page parsed with the standard library's html.parser into a small element tree."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


@dataclass
class Element:
    tag: str
    attrs: dict[str, str | None]
    parent: Element | None = None
    children: list[Element] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)

    def iter(self, tag: str | None = None):
        """This element and every descendant (with `tag`), in document order."""
        if tag is None or self.tag == tag:
            yield self
        for child in self.children:
            yield from child.iter(tag)

    def find_all(self, tag: str | None = None, **attrs) -> list[Element]:
        return [e for e in self.iter(tag) if all(e.attrs.get(k.replace("_", "-")) == v for k, v in attrs.items())]

    def find(self, tag: str | None = None, **attrs) -> Element:
        found = self.find_all(tag, **attrs)
        assert found, f"no <{tag}> with {attrs}"
        return found[0]

    @property
    def text(self) -> str:
        return "".join(self.texts) + "".join(c.text for c in self.children)


class _TreeBuilder(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = Element("#document", {})
        self.current = self.root
        self.unclosed: list[str] = []

    def handle_starttag(self, tag, attrs):
        element = Element(tag, dict(attrs), self.current)
        self.current.children.append(element)
        if tag not in VOID:
            self.current = element

    def handle_startendtag(self, tag, attrs):
        self.current.children.append(Element(tag, dict(attrs), self.current))

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        node = self.current
        while node is not None and node.tag != tag:
            node = node.parent
        assert node is not None, f"</{tag}> closes nothing"
        while self.current is not node:  # an implicitly closed element: the page should have none
            self.unclosed.append(self.current.tag)
            self.current = self.current.parent
        self.current = node.parent

    def handle_data(self, data):
        self.current.texts.append(data)


def parse(page: str) -> Element:
    """The page's element tree; asserts that every element the page opens it also closes."""
    builder = _TreeBuilder()
    builder.feed(page)
    builder.close()
    assert builder.current is builder.root, f"unclosed <{builder.current.tag}>"
    assert not builder.unclosed, f"elements closed implicitly: {builder.unclosed}"
    return builder.root
