"""Accounts as pages to pivot from: the account page, the accounts sharing one attribute
(a pivot), search by attribute or id prefix, and a case's related accounts."""
