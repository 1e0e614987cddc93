"""Running a spec: the runner (stage graph, caching, resume), evaluation, comparison and reports."""
