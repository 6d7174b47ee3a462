"""The Discord front end (discord.py 2.x): slash commands and buttons over the platform-neutral core."""
