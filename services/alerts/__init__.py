"""Alert rules, evaluation, lifecycle and delivery channels (issue 16 builds this package)."""
