-- 012: the template staff send to reopen a closed reply window is an outbox row of its own (kind 'template', its own key, no text), so it goes once across restarts, its statuses reach the card, and export and erasure find it; a draft has at most one row of each kind
-- kind: 'reply' (the approved text) or 'template'
ALTER TABLE outbox ADD COLUMN kind TEXT NOT NULL DEFAULT 'reply';
-- template, template_lang: the template's name and language as approved in WhatsApp Manager (business settings, no personal data); '' for replies
ALTER TABLE outbox ADD COLUMN template TEXT NOT NULL DEFAULT '';
ALTER TABLE outbox ADD COLUMN template_lang TEXT NOT NULL DEFAULT '';
-- template_params: which parameters the template takes: '' none, 'first_name' the customer's first name as {{1}}, filled in from the subject when it is sent (never stored here)
ALTER TABLE outbox ADD COLUMN template_params TEXT NOT NULL DEFAULT '';
DROP INDEX outbox_draft;
CREATE UNIQUE INDEX outbox_draft ON outbox(draft_id, kind) WHERE draft_id IS NOT NULL;
