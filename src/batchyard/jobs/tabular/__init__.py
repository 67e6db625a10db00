"""Reading an uploaded table — CSV, TSV, JSON Lines or an Excel workbook, in whatever encoding Excel or a script
wrote it — as a header and numbered rows of raw strings, the first step of the ``import`` job.

Nothing here knows about resources or fields: mapping headers to fields and parsing values come later, so that
one reader serves every resource and every error can still point at the line the user sees in their file.
"""
