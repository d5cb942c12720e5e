// Package drafts proposes replies to customers with an LLM behind any
// OpenAI-compatible endpoint (OpenAI, Azure OpenAI, Ollama, vLLM, LM Studio)
// through github.com/sashabaranov/go-openai. It implements bot.Drafter.
//
// Only cmd/switchboard imports it: it builds Options (OptionsFromEnv), loads
// the business Profile (LoadProfile) and hands the Drafter to the router.
// Admin tooling (the Teams /profile command) uses ParseProfileCommand,
// ProfileCommand.Apply, SaveProfile and Drafter.SetProfile.
//
// What leaves the process is minimised and fenced:
//   - names (every name the router passes in bot.DraftRequest.Names, names
//     set with /name, names the texts reveal: "my name is…", "Hi Jane",
//     "Kind regards, Tom"), dates of birth, street addresses, IBANs (mod-97),
//     sort codes and account numbers, National Insurance and passport
//     numbers, IP addresses, phone numbers, e-mail addresses, card numbers
//     (Luhn) and UK postcodes become placeholders ([NAME_1], [IBAN_1], …) in
//     the message, the history, the previous draft and the staff
//     instruction; names and contact details are restored in the draft,
//     payment and identity numbers and dates of birth never are;
//   - slash commands are not sent as history; no subject ids or chat ids are
//     sent, the `user` field stays empty, `store` is false wherever the API
//     has the field, and the model gets no tools;
//   - customer text sits inside <<<CUSTOMER_MESSAGE …>>> … <<<END>>> blocks
//     marked as untrusted data, with the delimiters neutralised inside.
//
// What comes back is checked in Go: the model answers in a strict JSON schema
// and refers to amounts only by reference (quote_items with [QUOTE],
// [PRICE:item id], [TOTAL]); Go writes every amount, VAT and total
// (bot.Quote) and lays the quote out as a block of its own. Any money the
// model wrote itself (in any script, in words, as a bare number where a
// price stands, a discount or free work), a quoted item that is not on the
// list, an invented placeholder or a leaked instruction adds a Flag, which
// blocks approval until staff edit the draft.
package drafts
