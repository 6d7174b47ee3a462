"""ID photos: the formats, backgrounds, papers and suit styles (``catalog.toml``), the crop that puts a head
where a format wants it (``layout``) and the print sheet (``sheet``)."""
