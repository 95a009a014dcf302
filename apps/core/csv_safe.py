"""Every CSV the app writes goes through `csv_writer`: no cell becomes a live spreadsheet
formula (CSV injection, OWASP)."""

import csv

# Excel, LibreOffice and Google Sheets read a cell starting with one of these as a formula.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def csv_safe_cell(value):
    """Text that starts like a formula gets a leading single quote, so it is shown as text.
    Numbers the app computed (int, float, Decimal) are not text: a negative score stays a
    number."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


class SafeCsvWriter:
    """A csv.writer whose rows go through csv_safe_cell."""

    def __init__(self, file, **fmtparams):
        self._writer = csv.writer(file, **fmtparams)

    def writerow(self, row):
        return self._writer.writerow([csv_safe_cell(value) for value in row])


def csv_writer(file, **fmtparams) -> SafeCsvWriter:
    """Use instead of csv.writer for anything a person may open in a spreadsheet."""
    return SafeCsvWriter(file, **fmtparams)
