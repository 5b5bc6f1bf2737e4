"""The faces: the %%banana magic, %banana WORD, the Python API, the panel and the mark-up.

They parse input into a ``turns.runner.Ask`` and display what comes back; nothing else.
"""
