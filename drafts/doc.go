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
//   - phone numbers, e-mail addresses, card numbers (Luhn) and UK postcodes
//     become placeholders ([PHONE_1], …) before the request is built and are
//     restored in the draft afterwards, except card numbers, which never are;
//   - no names, subject ids or chat ids are sent, the `user` field stays
//     empty, `store` is false and the model gets no tools;
//   - customer text sits inside <<<CUSTOMER_MESSAGE …>>> … <<<END>>> blocks
//     marked as untrusted data, with the delimiters neutralised inside.
//
// What comes back is checked in Go: the model answers in a strict JSON schema
// and names price-list item ids and quantities only; Go computes every
// amount, VAT and total (bot.Quote). A quoted item that is not on the list, a
// currency figure in the reply that the price list does not produce, an
// invented placeholder or a leaked instruction adds a Flag, which blocks
// approval until staff edit the draft.
package drafts
