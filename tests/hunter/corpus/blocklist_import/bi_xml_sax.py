# mypy: ignore-errors
import xml.sax


class Counter(xml.sax.ContentHandler):
    def __init__(self):
        super().__init__()
        self.count = 0

    def startElement(self, name, attrs):
        self.count += 1


handler = Counter()
xml.sax.parse("upload.xml", handler)
