# mypy: ignore-errors
from xml.dom import minidom

doc = minidom.parse("instrument_export.xml")
print(doc.documentElement.tagName)
