"""Content batches: many films from one file (a theme list in .txt, .csv or .jsonl, or a batch YAML),
run now (`batch run`) or on a cron schedule (`batch schedule`), by an executor chosen by name (each
film in its own local process, or Ray)."""
from .executors import create_executor, executor_names, register_executor
from .runner import BatchResult, FilmOutcome, run_batch
from .spec import BatchSpec, FilmSpec, load_batch

__all__ = ["BatchResult", "BatchSpec", "FilmOutcome", "FilmSpec", "create_executor", "executor_names", "load_batch",
           "register_executor", "run_batch"]
