"""result file → report, compare, score and decision record (they never re-run)."""
