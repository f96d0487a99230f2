# mypy: ignore-errors
import defusedxml.ElementTree as ET

tree = ET.parse("instrument_export.xml")
print(len(list(tree.getroot())))
