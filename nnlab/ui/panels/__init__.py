"""Side panels (docks); each edits the shared Document and listens to it."""
