-- 014: media.dir says who sent a file ('in' the customer, 'out' staff, attached to a reply: kept under the customer and erased with them); drafts.attachment_id is the file that goes with the draft's reply
ALTER TABLE media ADD COLUMN dir TEXT NOT NULL DEFAULT 'in';
ALTER TABLE drafts ADD COLUMN attachment_id INTEGER REFERENCES media(id) ON DELETE SET NULL;
