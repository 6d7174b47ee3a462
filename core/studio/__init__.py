"""The chat-facing studio: commands, the command desk, the job and identity desks, buttons, status texts and
delivery."""
