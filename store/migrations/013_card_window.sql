-- 013: cards.window_ends is when the reply window the posted card shows as open closes (0: the card shows no open window), so the router refreshes the card at that moment, also after a restart, and staff are never offered Approve on a closed window; drafts_open finds a chat's undecided drafts, whose cards are refreshed when the customer writes again
ALTER TABLE cards ADD COLUMN window_ends INTEGER NOT NULL DEFAULT 0;
CREATE INDEX cards_window ON cards(window_ends) WHERE window_ends > 0;
CREATE INDEX drafts_open ON drafts(platform, chat_bidx, id) WHERE status IN ('drafting', 'pending', 'failed');
