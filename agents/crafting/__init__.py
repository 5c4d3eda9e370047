"""The agent side of the crafting world family: perception and the scripted policy."""
