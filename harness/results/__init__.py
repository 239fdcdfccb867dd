"""run → result file: the file, its schema, its readers and the statistics."""
