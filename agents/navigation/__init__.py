"""The agent side of the navigation world family: perception and the scripted policy."""
