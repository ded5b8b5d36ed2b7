"""Redis: the event stream (``events``), the case heads (``heads``), the checked append of
actions (``commands``) and the persister that stores the stream exactly once."""
