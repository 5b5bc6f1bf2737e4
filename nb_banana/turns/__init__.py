"""One turn's steps (plan, from_store, send, commit) and the runs built on them: each,
comparison, batch. The only layer below the faces that reads the context.
"""
