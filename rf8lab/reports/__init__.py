"""Reports: each writes its JSON, then renders its page from that JSON only. markdown.py holds the table
and provenance helpers they share; fit.py (rf8lab fit), compare.py (rf8lab compare), format_study.py
(analysis/format_study.py) and docgen.py (the generated parts of docs/)."""
