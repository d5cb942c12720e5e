-- 003: index sent messages by platform id, so WhatsApp retry requests after a restart find the text without a scan
CREATE INDEX messages_sent_id ON messages(platform, platform_id) WHERE dir = 'out';
