"""Side panels (docks); each edits the shared Document (nnlab.app.document) and listens to it."""
