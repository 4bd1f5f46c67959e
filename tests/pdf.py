"""PDFs read back as text, as a finance officer's copy would be: the tests
check what ``pdftotext -layout`` finds in a report, not how it was drawn."""

import subprocess
from pathlib import Path


def pdf_text(source: bytes | str | Path) -> str:
    """The text of a PDF given as its bytes or its path, laid out."""
    if isinstance(source, bytes):
        assert source.startswith(b"%PDF-"), source[:20]
        result = subprocess.run(
            ["pdftotext", "-layout", "-", "-"], input=source, capture_output=True, check=True
        )
    else:
        result = subprocess.run(
            ["pdftotext", "-layout", str(source), "-"], capture_output=True, check=True
        )
    return result.stdout.decode()
