"""The agent side of the manipulation world family: perception and the scripted policy."""
