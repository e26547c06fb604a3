"""What users read: the report of a run (``run.py``: ``--json`` and text), the summary of a
compiled program (``summary.py``: ``compile`` and ``info``), and progress display
(``progress.py``)."""
