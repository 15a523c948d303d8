"""The watch list as an investigation sees it: which indicators and outside flags a case's
accounts (or one account) show, with their sources, and a campaign's own indicators sent
out as STIX 2.1 or CSV under a TLP level chosen at export."""
