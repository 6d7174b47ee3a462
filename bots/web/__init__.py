"""The /sketch drawing canvas: a small aiohttp app the bot process serves (a Telegram Mini App, or a signed
link on Discord and the console). Drawings go into the studio like photos do (``JobDesk.submit_sketch``)."""
