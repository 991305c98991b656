from .graph import Components, build_graph, open_checkpointer
from .progress import Event, Progress, StageClock

__all__ = ["Components", "Event", "Progress", "StageClock", "build_graph", "open_checkpointer"]
