"""Size caps of user-written text, one place for every model, form and serializer.

A field's cap is its ``max_length``; model validation, forms and DRF serializers derived from the
model enforce it with a field message. Where the column is a ``CharField`` (accounts, matching) the
database enforces it too; the capped ``TextField`` columns of challenges rely on validation.
"""

# One line: names, titles, short labels.
TITLE = 200
# A paragraph: summaries, a bid's short answers, reasons, review comments.
PARAGRAPH = 2_000
# A long text: a need's description, a result's abstract, a technical approach.
LONG_TEXT = 20_000
