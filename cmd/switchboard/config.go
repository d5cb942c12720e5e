package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/switchboard/switchboard/bot"
	"github.com/switchboard/switchboard/channels/whatsappcloud"
	"github.com/switchboard/switchboard/drafts"
	"github.com/switchboard/switchboard/media"
)

// Environment variables. Secrets are read only from the environment or from
// a file named by NAME_FILE, never from flags, so they stay out of shell
// history, process listings and --help.
const (
	envData       = "SWITCHBOARD_DATA"
	envListen     = "SWITCHBOARD_LISTEN"
	envLogLevel   = "SWITCHBOARD_LOG_LEVEL"
	envLogFormat  = "SWITCHBOARD_LOG_FORMAT"
	envDefaultCC  = "SWITCHBOARD_DEFAULT_CC"
	envNoWhatsApp = "SWITCHBOARD_NO_WHATSAPP"
	envTeamsDev   = "SWITCHBOARD_TEAMS_DEV"

	envPairPhone       = "SWITCHBOARD_WHATSAPP_PAIR_PHONE"
	envAdmins          = "SWITCHBOARD_ADMINS"
	envStaffTenants    = "SWITCHBOARD_STAFF_TENANTS"
	envPublicURL       = "SWITCHBOARD_PUBLIC_URL"
	envRetentionMonths = "SWITCHBOARD_RETENTION_MONTHS"
	envDraftDeadline   = "SWITCHBOARD_DRAFT_DEADLINE"
	envMediaMaxBytes   = "SWITCHBOARD_MEDIA_MAX_BYTES"
	envDocMaxBytes     = "SWITCHBOARD_DOCUMENT_MAX_BYTES"
	envMediaMaxPixels  = "SWITCHBOARD_MEDIA_MAX_PIXELS"

	envMasterKey     = "SWITCHBOARD_MASTER_KEY"
	envMasterKeyFile = "SWITCHBOARD_MASTER_KEY_FILE"

	envAppID       = "MICROSOFT_APP_ID"
	envAppPassword = "MICROSOFT_APP_PASSWORD"
	envAppTenantID = "MICROSOFT_APP_TENANT_ID"

	envCloudPhoneNumberID = "WHATSAPP_CLOUD_PHONE_NUMBER_ID"
	envCloudAccessToken   = "WHATSAPP_CLOUD_ACCESS_TOKEN"
	envCloudAppSecret     = "WHATSAPP_CLOUD_APP_SECRET"
	envCloudVerifyToken   = "WHATSAPP_CLOUD_VERIFY_TOKEN"
	envCloudGraphURL      = "SWITCHBOARD_WHATSAPP_CLOUD_GRAPH_URL"
	envCloudTemplate      = "SWITCHBOARD_WHATSAPP_CLOUD_TEMPLATE"
	envCloudTemplateLang  = "SWITCHBOARD_WHATSAPP_CLOUD_TEMPLATE_LANGUAGE"
	envCloudTemplateParam = "SWITCHBOARD_WHATSAPP_CLOUD_TEMPLATE_PARAMS"

	envOpenAIKey     = "OPENAI_API_KEY"
	envOpenAIBaseURL = "OPENAI_BASE_URL"
	envOpenAIModel   = "OPENAI_MODEL"
	envTranscribe    = "OPENAI_TRANSCRIBE_MODEL"
	envAzureEndpoint = "AZURE_OPENAI_ENDPOINT"
	envLLMHTTPHost   = drafts.EnvHTTPHost
)

// Limits of --retention-months.
const (
	defaultRetentionMonths = 12
	maxRetentionMonths     = 120
)

// Limits of the media caps: WhatsApp's own are 16 MB for media and 100 MB
// for documents; a download is held in memory while it is checked, so the
// caps stay well within it.
const (
	minMediaBytes  = 1 << 10
	maxMediaBytes  = 1 << 30
	minMediaPixels = 1_000_000
	maxMediaPixels = 500_000_000
	// transcribeOff turns transcription off (OPENAI_TRANSCRIBE_MODEL=off).
	transcribeOff = "off"
)

// Limits of --draft-deadline.
const (
	minDraftDeadline = 5 * time.Second
	maxDraftDeadline = 10 * time.Minute
)

// Log formats.
const (
	LogJSON    = "json"
	LogConsole = "console"
)

// Config is everything Switchboard reads at start-up. Build it with
// DefaultConfig or Load; check it with Validate. Print it with String, which
// redacts secrets.
type Config struct {
	// DataDir holds switchboard.db, keys.db and master.key.
	DataDir string
	// Listen is the HTTP address for /healthz, /readyz, /metrics and the
	// Teams endpoint. Port 0 picks a free port (tests).
	Listen string
	// LogLevel is trace, debug, info, warn or error.
	LogLevel string
	// LogFormat is json or console. If empty, console when stderr is a
	// terminal, else json.
	LogFormat string
	// DefaultCC is the country calling code (digits) given to national
	// phone numbers typed without one, "44".
	DefaultCC string

	// NoWhatsApp runs without the WhatsApp channel (Teams only).
	NoWhatsApp bool
	// TeamsDev accepts unsigned Bot Framework requests from the local Agents
	// Playground; only on a loopback listen address.
	TeamsDev bool

	// MasterKey wraps every subject's data key. If empty, MasterKeyFile is
	// read; if that is empty too, <DataDir>/master.key is read or generated.
	MasterKey Secret
	// MasterKeyFile names a file holding the master key (not world-readable).
	MasterKeyFile string

	// MicrosoftAppID, MicrosoftAppPassword and MicrosoftAppTenantID are the
	// Teams bot's Entra app registration.
	MicrosoftAppID       string
	MicrosoftAppPassword Secret
	MicrosoftAppTenantID string

	// WhatsAppPairPhone, if set, pairs a new WhatsApp session with a code
	// typed on that phone (international format) instead of the QR code.
	WhatsAppPairPhone string

	// CloudPhoneNumberID selects the WhatsApp Business Platform (Cloud API)
	// transport: the business number's id in WhatsApp Manager. If empty,
	// WhatsApp runs as a linked device (whatsmeow).
	CloudPhoneNumberID string
	// CloudAccessToken is a system-user token with
	// whatsapp_business_messaging; CloudAppSecret signs the webhooks;
	// CloudVerifyToken is what Meta echoes when it verifies the webhook.
	CloudAccessToken Secret
	CloudAppSecret   Secret
	CloudVerifyToken Secret
	// CloudAccessTokenFile is WHATSAPP_CLOUD_ACCESS_TOKEN_FILE, if the token
	// came from a file: it is read again when Meta refuses the token and on
	// SIGHUP, so a rotated token needs no restart.
	CloudAccessTokenFile string
	// CloudGraphURL is the Graph API base with its version.
	CloudGraphURL string
	// CloudTemplate and CloudTemplateLanguage name the approved message
	// template staff may send to reopen a closed 24-hour window; empty:
	// none.
	CloudTemplate         string
	CloudTemplateLanguage string
	// CloudTemplateParams says what the template's body takes: "none", or
	// "first_name" (the customer's first name as {{1}}).
	CloudTemplateParams string
	// Admins are the Entra (AAD) object ids of the Teams admins, lower case.
	Admins []string
	// StaffTenants are Entra tenants whose users are staff, besides
	// MicrosoftAppTenantID (which always is).
	StaffTenants []string
	// PublicURL is the https address the bot is reached at from outside
	// (behind the TLS proxy); Teams exports are sent as one-time links
	// under PublicURL/exports/. If empty, exports go as a file or a reply.
	PublicURL string
	// RetentionMonths is how long a customer's messages and drafts are kept
	// after their last message.
	RetentionMonths int
	// DraftDeadline bounds one AI draft, the model's retries included; a
	// card says "drafting took too long" after it (bot.Options.DraftDeadline).
	DraftDeadline time.Duration
	// MediaMaxBytes caps a photo, voice note, audio file, video or sticker
	// kept from a customer, DocumentMaxBytes a document (WhatsApp's own
	// limits are 16 MB and 100 MB): a larger file is not downloaded, and
	// its card says so. MediaMaxPixels caps a photo's width × height, read
	// from its header before any pixel is decoded.
	MediaMaxBytes    int64
	DocumentMaxBytes int64
	MediaMaxPixels   int64
	// TranscribeModel is the model voice notes are transcribed with at the
	// LLM endpoint (the Azure deployment's name with Azure); "off" keeps
	// voice notes without a transcript.
	TranscribeModel string

	// OpenAIAPIKey, OpenAIBaseURL and OpenAIModel are the drafter's
	// OpenAI-style settings as read from the environment; LLM is what
	// drafts.OptionsFromEnv made of them (and of AZURE_OPENAI_*).
	OpenAIAPIKey  Secret
	OpenAIBaseURL string
	OpenAIModel   string
	// LLMHTTPHost names the hosts (comma separated) the LLM endpoint may
	// reach over plain http besides loopback: a trusted LAN machine or a
	// container name. Empty: https only.
	LLMHTTPHost string
	// LLM configures AI drafts; nil when no LLM is configured (staff then
	// write every reply by hand).
	LLM *LLM
}

// LLM wraps the drafter's options, which hold the API key: every way of
// printing it redacts the key.
type LLM struct{ opts drafts.Options }

// Options returns the drafter's options (with the key). Never log them
// except through String.
func (l *LLM) Options() drafts.Options { return l.opts }

// String describes the endpoint and model, without the key.
func (l *LLM) String() string {
	if l == nil {
		return "manual"
	}
	return l.opts.String()
}

// GoString redacts like String.
func (l *LLM) GoString() string { return l.String() }

// Format redacts for every verb.
func (l *LLM) Format(f fmt.State, _ rune) { io.WriteString(f, l.String()) }

// MarshalText redacts, so encoders show no key.
func (l *LLM) MarshalText() ([]byte, error) { return []byte(l.String()), nil }

// Provider names the LLM provider for the privacy notice: the host that
// receives the prompts.
func (l *LLM) Provider() string {
	if l == nil {
		return ""
	}
	switch {
	case l.opts.Azure != nil:
		return "Microsoft Azure OpenAI (" + hostOf(l.opts.Azure.Endpoint) + ")"
	case l.opts.BaseURL != "":
		return "the AI model service at " + hostOf(l.opts.BaseURL)
	default:
		return "OpenAI (USA)"
	}
}

// hostOf returns the host of a URL, or the URL if it does not parse.
func hostOf(s string) string {
	if u, err := url.Parse(s); err == nil && u.Host != "" {
		return u.Host
	}
	return s
}

// DefaultConfig returns the configuration used when neither flags nor
// environment say otherwise.
func DefaultConfig() Config {
	return Config{
		DataDir:   "./switchboard-data",
		Listen:    "127.0.0.1:3978",
		LogLevel:  "info",
		LogFormat: "",
		DefaultCC: "44",

		RetentionMonths: defaultRetentionMonths,
		DraftDeadline:   bot.DefaultDraftDeadline,

		MediaMaxBytes:    media.DefaultMediaLimit,
		DocumentMaxBytes: media.DefaultDocumentLimit,
		MediaMaxPixels:   media.DefaultMaxPixels,
		TranscribeModel:  drafts.DefaultTranscribeModel,

		CloudGraphURL:         whatsappcloud.DefaultGraphURL,
		CloudTemplateLanguage: "en",
		CloudTemplateParams:   templateParamsNone,
	}
}

// WhatsApp transports, as WhatsAppTransport names them.
const (
	transportLinked = "linked" // a linked device over whatsmeow
	transportCloud  = "cloud"  // the WhatsApp Business Platform (Cloud API)
)

// WhatsAppTransport says how WhatsApp runs: "cloud" when a Cloud API phone
// number id is set, else "linked"; "" with --no-whatsapp.
func (c Config) WhatsAppTransport() string {
	switch {
	case c.NoWhatsApp:
		return ""
	case c.CloudPhoneNumberID != "":
		return transportCloud
	}
	return transportLinked
}

// secretFlagNames are refused as flags with a pointer to the environment.
var secretFlagNames = map[string]string{
	"master-key":                  envMasterKey,
	"master-key-file":             envMasterKeyFile,
	"microsoft-app-password":      envAppPassword,
	"app-password":                envAppPassword,
	"openai-api-key":              envOpenAIKey,
	"whatsapp-cloud-access-token": envCloudAccessToken,
	"whatsapp-cloud-app-secret":   envCloudAppSecret,
	"whatsapp-cloud-verify-token": envCloudVerifyToken,
}

// Load builds the configuration from defaults, then the environment (through
// getenv), then flags in args (without the program name), and validates it.
// Secrets come only from the environment or NAME_FILE files. On -h it
// returns flag.ErrHelp.
func Load(args []string, getenv func(string) string) (Config, error) {
	return load(args, getenv, nil)
}

// load is Load with extra, subcommand-specific flags declared by extra.
func load(args []string, getenv func(string) string, extra func(fs *flag.FlagSet)) (Config, error) {
	cfg := DefaultConfig()
	if err := cfg.fromEnv(getenv); err != nil {
		return Config{}, err
	}
	fs := cfg.flagSet(io.Discard)
	if extra != nil {
		extra(fs)
	}
	for _, a := range args {
		if a == "--" {
			break
		}
		name, ok := flagName(a)
		if !ok {
			continue
		}
		if env, secret := secretFlagNames[name]; secret {
			return Config{}, fmt.Errorf("flag --%s: secrets are read only from the environment (%s or %s_FILE)", name, env, env)
		}
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return Config{}, err
		}
		return Config{}, fmt.Errorf("parse flags: %w", err)
	}
	if fs.NArg() > 0 {
		return Config{}, fmt.Errorf("unexpected argument %q (flags start with --)", clip(fs.Arg(0), 40))
	}
	if err := cfg.Validate(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// flagName returns the name of a "-name", "--name" or "--name=value" argument.
func flagName(arg string) (string, bool) {
	if len(arg) < 2 || arg[0] != '-' {
		return "", false
	}
	name := strings.TrimLeft(arg, "-")
	name, _, _ = strings.Cut(name, "=")
	return strings.ToLower(name), name != ""
}

// fromEnv overlays environment values on cfg.
func (c *Config) fromEnv(getenv func(string) string) error {
	str := func(dst *string, key string) {
		if v := getenv(key); v != "" {
			*dst = v
		}
	}
	str(&c.DataDir, envData)
	str(&c.Listen, envListen)
	str(&c.LogLevel, envLogLevel)
	str(&c.LogFormat, envLogFormat)
	str(&c.DefaultCC, envDefaultCC)
	str(&c.MicrosoftAppID, envAppID)
	str(&c.MicrosoftAppTenantID, envAppTenantID)
	str(&c.OpenAIBaseURL, envOpenAIBaseURL)
	str(&c.OpenAIModel, envOpenAIModel)
	str(&c.LLMHTTPHost, envLLMHTTPHost)
	str(&c.WhatsAppPairPhone, envPairPhone)
	str(&c.PublicURL, envPublicURL)
	str(&c.CloudPhoneNumberID, envCloudPhoneNumberID)
	str(&c.CloudGraphURL, envCloudGraphURL)
	str(&c.CloudTemplate, envCloudTemplate)
	str(&c.CloudTemplateLanguage, envCloudTemplateLang)
	str(&c.TranscribeModel, envTranscribe)
	str(&c.CloudTemplateParams, envCloudTemplateParam)
	c.Admins = splitList(getenv(envAdmins), true)
	c.StaffTenants = splitList(getenv(envStaffTenants), true)
	var errs []error
	if v := strings.TrimSpace(getenv(envRetentionMonths)); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			errs = append(errs, &FieldError{Field: envRetentionMonths, Msg: "want a whole number of months"})
		} else {
			c.RetentionMonths = n
		}
	}
	for _, n := range []struct {
		dst *int64
		key string
		sz  bool
	}{{&c.MediaMaxBytes, envMediaMaxBytes, true}, {&c.DocumentMaxBytes, envDocMaxBytes, true}, {&c.MediaMaxPixels, envMediaMaxPixels, false}} {
		v := strings.TrimSpace(getenv(n.key))
		if v == "" {
			continue
		}
		if n.sz {
			var b byteSize
			if err := b.Set(v); err != nil {
				errs = append(errs, &FieldError{Field: n.key, Msg: "want a size such as 16MB, 512KB or a number of bytes"})
				continue
			}
			*n.dst = int64(b)
			continue
		}
		x, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			errs = append(errs, &FieldError{Field: n.key, Msg: "want a whole number"})
			continue
		}
		*n.dst = x
	}
	if v := strings.TrimSpace(getenv(envDraftDeadline)); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			errs = append(errs, &FieldError{Field: envDraftDeadline, Msg: "want a duration such as 45s or 2m"})
		} else {
			c.DraftDeadline = d
		}
	}
	for _, b := range []struct {
		dst *bool
		key string
	}{{&c.NoWhatsApp, envNoWhatsApp}, {&c.TeamsDev, envTeamsDev}} {
		v := getenv(b.key)
		if v == "" {
			continue
		}
		parsed, err := strconv.ParseBool(v)
		if err != nil {
			errs = append(errs, &FieldError{Field: b.key, Msg: "want true or false"})
			continue
		}
		*b.dst = parsed
	}

	// The master key file is read (and its permissions checked) when the key
	// is loaded; here both sources at once are refused.
	if getenv(envMasterKey) != "" && getenv(envMasterKeyFile) != "" {
		errs = append(errs, &FieldError{Field: envMasterKey, Msg: "set either " + envMasterKey + " or " + envMasterKeyFile + ", not both"})
	}
	c.MasterKey = NewSecret(getenv(envMasterKey))
	c.MasterKeyFile = getenv(envMasterKeyFile)
	for _, s := range []struct {
		dst *Secret
		key string
	}{{&c.MicrosoftAppPassword, envAppPassword}, {&c.OpenAIAPIKey, envOpenAIKey},
		{&c.CloudAccessToken, envCloudAccessToken}, {&c.CloudAppSecret, envCloudAppSecret}, {&c.CloudVerifyToken, envCloudVerifyToken}} {
		v, err := readSecret(getenv, s.key)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		*s.dst = v
	}
	c.CloudAccessTokenFile = getenv(envCloudAccessToken + "_FILE")
	// A malformed OPENAI_BASE_URL is reported by Validate, naming it.
	if drafts.Configured(getenv) && len(errs) == 0 && (c.OpenAIBaseURL == "" || httpURL(c.OpenAIBaseURL)) {
		// The drafts package reads its own variables (OPENAI_*, AZURE_OPENAI_*);
		// its errors name them and never hold the key.
		o, err := drafts.OptionsFromEnv(getenv)
		if err != nil {
			errs = append(errs, &FieldError{Field: "OPENAI_*/AZURE_OPENAI_*", Msg: "bad AI drafts settings", Err: err})
		} else {
			c.LLM = &LLM{opts: o}
		}
	}
	return errors.Join(errs...)
}

// splitList splits a comma-separated list, trimming blanks and dropping
// empty entries; lower cases the entries if lower.
func splitList(s string, lower bool) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if lower {
			f = strings.ToLower(f)
		}
		if f != "" {
			out = append(out, f)
		}
	}
	return out
}

// readSecretFile reads a secret from file, trailing newlines dropped; an
// empty file is an error. Errors never hold the secret.
func readSecretFile(file string) (string, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return "", err
	}
	s := strings.TrimRight(string(b), "\r\n")
	if s == "" {
		return "", errEmptySecret
	}
	return s, nil
}

// errEmptySecret is a secret file with nothing in it.
var errEmptySecret = errors.New("the file is empty")

// readSecret reads NAME from the environment or the file named by NAME_FILE
// (trailing newlines dropped). Errors never hold the secret.
func readSecret(getenv func(string) string, key string) (Secret, error) {
	v, file := getenv(key), getenv(key+"_FILE")
	switch {
	case v != "" && file != "":
		return Secret{}, &FieldError{Field: key, Msg: "set either " + key + " or " + key + "_FILE, not both"}
	case file != "":
		s, err := readSecretFile(file)
		switch {
		case errors.Is(err, errEmptySecret):
			return Secret{}, &FieldError{Field: key + "_FILE", Msg: "the file is empty"}
		case err != nil:
			return Secret{}, &FieldError{Field: key + "_FILE", Msg: "cannot read the file", Err: err}
		}
		return NewSecret(s), nil
	default:
		return NewSecret(v), nil
	}
}

// flagSet declares the flags over c's fields, so their defaults are what
// DefaultConfig and the environment gave. Secrets have no flags.
func (c *Config) flagSet(out io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("switchboard run", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.StringVar(&c.DataDir, "data", c.DataDir, "data directory: switchboard.db, keys.db, master.key (env "+envData+")")
	fs.StringVar(&c.Listen, "listen", c.Listen, "HTTP listen address for /healthz, /readyz, /metrics, /api/messages (env "+envListen+")")
	fs.StringVar(&c.LogLevel, "log-level", c.LogLevel, "trace, debug, info, warn or error (env "+envLogLevel+")")
	fs.StringVar(&c.LogFormat, "log-format", c.LogFormat, "json or console; empty: console on a terminal, else json (env "+envLogFormat+")")
	fs.StringVar(&c.DefaultCC, "default-country-code", c.DefaultCC, "country calling code for national phone numbers (env "+envDefaultCC+")")
	fs.BoolVar(&c.NoWhatsApp, "no-whatsapp", c.NoWhatsApp, "run without the WhatsApp channel (env "+envNoWhatsApp+")")
	fs.BoolVar(&c.TeamsDev, "teams-dev", c.TeamsDev, "accept unsigned Teams requests from the local Agents Playground; loopback only (env "+envTeamsDev+")")
	fs.StringVar(&c.WhatsAppPairPhone, "whatsapp-pair-phone", c.WhatsAppPairPhone, "pair WhatsApp with a code typed on this phone (+44 7700 900123) instead of the QR code (env "+envPairPhone+")")
	fs.StringVar(&c.CloudPhoneNumberID, "whatsapp-cloud-phone-number-id", c.CloudPhoneNumberID, "run WhatsApp on the WhatsApp Business Platform (Cloud API) with this phone number id from WhatsApp Manager, instead of as a linked device (env "+envCloudPhoneNumberID+")")
	fs.StringVar(&c.CloudGraphURL, "whatsapp-cloud-graph-url", c.CloudGraphURL, "Graph API base URL with its version (env "+envCloudGraphURL+")")
	fs.StringVar(&c.CloudTemplate, "whatsapp-cloud-template", c.CloudTemplate, "approved message template staff may send to reopen a closed 24-hour window; empty: none (env "+envCloudTemplate+")")
	fs.StringVar(&c.CloudTemplateLanguage, "whatsapp-cloud-template-language", c.CloudTemplateLanguage, "language code of that template, such as en_GB (env "+envCloudTemplateLang+")")
	fs.StringVar(&c.CloudTemplateParams, "whatsapp-cloud-template-params", c.CloudTemplateParams, "what that template's body takes: none, or first_name (the customer's first name as {{1}}) (env "+envCloudTemplateParam+")")
	fs.StringVar(&c.PublicURL, "public-url", c.PublicURL, "https address the bot is reached at, for one-time Teams export links; empty: exports go as a file or reply (env "+envPublicURL+")")
	fs.IntVar(&c.RetentionMonths, "retention-months", c.RetentionMonths, "erase a customer's messages and drafts this many months after their last message (env "+envRetentionMonths+")")
	fs.DurationVar(&c.DraftDeadline, "draft-deadline", c.DraftDeadline, "longest wait for one AI draft, retries included, before the card says the model did not answer in time (env "+envDraftDeadline+")")
	fs.Var((*byteSize)(&c.MediaMaxBytes), "media-max-bytes", "largest photo, voice note, audio, video or sticker kept from a customer (KB, MB, GB are 1024-based) (env "+envMediaMaxBytes+")")
	fs.Var((*byteSize)(&c.DocumentMaxBytes), "document-max-bytes", "largest document kept from a customer (env "+envDocMaxBytes+")")
	fs.Int64Var(&c.MediaMaxPixels, "media-max-pixels", c.MediaMaxPixels, "largest photo kept, in pixels (width × height), checked before decoding (env "+envMediaMaxPixels+")")
	fs.StringVar(&c.TranscribeModel, "transcribe-model", c.TranscribeModel, "model that transcribes voice notes at the LLM endpoint (the deployment with Azure); off: no transcripts (env "+envTranscribe+")")
	return fs
}

// usage writes the help text for "switchboard run".
func usage(w io.Writer) {
	cfg := DefaultConfig()
	fs := cfg.flagSet(w)
	fmt.Fprintln(w, "Usage: switchboard [run] [flags]")
	fmt.Fprintln(w, "       switchboard demo [--data DIR] [--listen "+demoListen+"]   try it: the bot with a simulated WhatsApp customer and the Agents Playground as staff")
	fmt.Fprintln(w, "       switchboard backup --out DIR [flags]   copy the SQLite store (switchboard.db, keys.db) into DIR with VACUUM INTO")
	fmt.Fprintln(w, "       switchboard whatsapp logout [--data DIR]   unlink the WhatsApp device and delete its session keys (bot stopped)")
	fmt.Fprintln(w, "       switchboard teams-manifest --out switchboard.zip [--app-id ID] --privacy-url URL --terms-url URL   write the Teams app package")
	fmt.Fprintln(w, "       switchboard version")
	fmt.Fprintln(w, "\nFlags (each defaults from its environment variable):")
	fs.PrintDefaults()
	fmt.Fprintln(w, "\nSecrets, read only from the environment or from a file named by NAME_FILE:")
	fmt.Fprintln(w, "  "+envMasterKey+"   32 bytes, base64 or hex; else <data>/master.key (generated on first run)")
	fmt.Fprintln(w, "  "+envAppPassword+"   Teams bot client secret")
	fmt.Fprintln(w, "  "+envOpenAIKey+"           key for the OpenAI-compatible endpoint (or AZURE_OPENAI_API_KEY, environment only)")
	fmt.Fprintln(w, "  "+envCloudAccessToken+", "+envCloudAppSecret+", "+envCloudVerifyToken+"   the WhatsApp Business Platform's system-user token, app secret and webhook verify token")
	fmt.Fprintln(w, "\nOther environment:")
	fmt.Fprintln(w, "  "+envAppID+", "+envAppTenantID+"   the Teams bot's app registration (Teams runs when the app id is set, or with --teams-dev)")
	fmt.Fprintln(w, "  "+envAdmins+"   comma-separated Entra object ids of the Teams admins")
	fmt.Fprintln(w, "  "+envStaffTenants+"   further Entra tenants whose users are staff (comma separated)")
	fmt.Fprintln(w, "  "+envOpenAIBaseURL+", "+envOpenAIModel+", AZURE_OPENAI_ENDPOINT, AZURE_OPENAI_DEPLOYMENT, AZURE_OPENAI_API_VERSION   AI drafts")
	fmt.Fprintln(w, "  "+envLLMHTTPHost+"   a trusted host the LLM endpoint may reach over plain http (else https, or http to loopback only)")
}

// FieldError is one invalid setting. Field names the flag or variable; Msg
// says what is wrong without echoing secrets.
type FieldError struct {
	Field string
	Msg   string
	Err   error
}

func (e *FieldError) Error() string {
	s := "config " + e.Field + ": " + e.Msg
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *FieldError) Unwrap() error { return e.Err }

// Validate checks every field and returns all problems joined, each a
// *FieldError.
func (c Config) Validate() error {
	var errs []error
	bad := func(field, msg string) { errs = append(errs, &FieldError{Field: field, Msg: msg}) }

	if strings.TrimSpace(c.DataDir) == "" {
		bad("--data", "must not be empty")
	} else if strings.ContainsRune(c.DataDir, 0) {
		bad("--data", "must not contain a NUL byte")
	}
	if host, port, err := net.SplitHostPort(c.Listen); err != nil {
		bad("--listen", "want host:port, such as 127.0.0.1:3978")
	} else if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
		bad("--listen", "port must be a number from 0 to 65535")
	} else if c.TeamsDev && !isLoopback(host) {
		bad("--teams-dev", "accepts unsigned requests, so --listen must be a loopback address (127.0.0.1, ::1 or localhost)")
	}
	switch c.LogLevel {
	case "trace", "debug", "info", "warn", "error":
	default:
		bad("--log-level", "want trace, debug, info, warn or error")
	}
	switch c.LogFormat {
	case "", LogJSON, LogConsole:
	default:
		bad("--log-format", "want json or console")
	}
	if cc := c.DefaultCC; cc == "" || len(cc) > 3 || cc[0] == '0' || strings.Trim(cc, "0123456789") != "" {
		bad("--default-country-code", "want 1 to 3 digits without a leading 0 or +, such as 44")
	}
	if !c.MasterKey.IsZero() {
		if _, err := ParseMasterKey(c.MasterKey.Value()); err != nil {
			errs = append(errs, &FieldError{Field: envMasterKey, Msg: "malformed", Err: err})
		}
	}
	if c.WhatsAppPairPhone != "" {
		if _, err := bot.NormalizePhone(c.WhatsAppPairPhone, ""); err != nil || !strings.HasPrefix(strings.TrimSpace(c.WhatsAppPairPhone), "+") {
			bad("--whatsapp-pair-phone", "want the business number in international format, such as +44 7700 900123")
		} else if c.NoWhatsApp {
			bad("--whatsapp-pair-phone", "has no use with --no-whatsapp")
		} else if c.CloudPhoneNumberID != "" {
			bad("--whatsapp-pair-phone", "pairs a linked device, but "+envCloudPhoneNumberID+" runs WhatsApp on the WhatsApp Business Platform: one business number, one transport; unset one of them")
		}
	}
	errs = append(errs, c.validateCloud()...)
	for i, a := range c.Admins {
		if _, err := bot.ParseIdentity("teams:"+a, ""); err != nil || !guidLike(a) {
			bad(envAdmins, fmt.Sprintf("entry %d is not an Entra object id (a GUID such as 6f1c2b3a-0d4e-4f5a-8b6c-7d8e9f0a1b2c; find it in Entra ID, Users)", i+1))
		}
	}
	for i, t := range c.StaffTenants {
		if !guidLike(t) {
			bad(envStaffTenants, fmt.Sprintf("entry %d is not an Entra tenant id (a GUID)", i+1))
		}
	}
	if c.MicrosoftAppTenantID != "" && !guidLike(c.MicrosoftAppTenantID) {
		bad(envAppTenantID, "want the Entra tenant id, a GUID")
	}
	if c.MicrosoftAppID != "" && c.MicrosoftAppPassword.IsZero() && !c.TeamsDev {
		bad(envAppPassword, "is required with "+envAppID+" (or run with --teams-dev on a developer machine)")
	}
	if c.PublicURL != "" {
		u, err := url.Parse(c.PublicURL)
		switch {
		case err != nil || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.ForceQuery:
			bad("--public-url", "want an address such as https://bot.example.com (no query or fragment)")
		case u.Scheme != "https" && !(u.Scheme == "http" && isLoopback(u.Hostname())):
			bad("--public-url", "must be https (http only for a loopback host)")
		}
	}
	if c.RetentionMonths < 1 || c.RetentionMonths > maxRetentionMonths {
		bad("--retention-months", fmt.Sprintf("want 1 to %d", maxRetentionMonths))
	}
	if c.DraftDeadline < minDraftDeadline || c.DraftDeadline > maxDraftDeadline {
		bad("--draft-deadline", "want 5 seconds to 10 minutes (5s to 10m)")
	}
	for _, m := range []struct {
		v    int64
		flag string
	}{{c.MediaMaxBytes, "--media-max-bytes"}, {c.DocumentMaxBytes, "--document-max-bytes"}} {
		if m.v < minMediaBytes || m.v > maxMediaBytes {
			bad(m.flag, "want 1KB to 1GB")
		}
	}
	if c.MediaMaxPixels < minMediaPixels || c.MediaMaxPixels > maxMediaPixels {
		bad("--media-max-pixels", "want 1000000 to 500000000 (one to 500 megapixels)")
	}
	if m := c.TranscribeModel; m == "" || len(m) > 100 || strings.ContainsAny(m, " \t\r\n?#") {
		bad("--transcribe-model", "want a model name such as whisper-1, or off")
	}
	if c.OpenAIBaseURL != "" && !httpURL(c.OpenAIBaseURL) {
		bad(envOpenAIBaseURL, "want an http or https URL")
	}
	// Prompts carry customer messages: plain http only to this machine or
	// to a host the operator named.
	endpoints := []struct{ field, url string }{}
	if c.LLM != nil && c.LLM.opts.Azure != nil {
		endpoints = append(endpoints, struct{ field, url string }{envAzureEndpoint, c.LLM.opts.Azure.Endpoint})
	} else if c.OpenAIBaseURL != "" && httpURL(c.OpenAIBaseURL) {
		endpoints = append(endpoints, struct{ field, url string }{envOpenAIBaseURL, c.OpenAIBaseURL})
	}
	for _, e := range endpoints {
		if err := drafts.CheckEndpoint(e.url, c.LLMHTTPHost); err != nil {
			errs = append(errs, &FieldError{Field: e.field, Msg: "refused", Err: err})
		}
	}
	return errors.Join(errs...)
}

// Values of --whatsapp-cloud-template-params.
const (
	templateParamsNone      = "none"
	templateParamsFirstName = "first_name"
)

// validateCloud checks the WhatsApp Business Platform settings: all four
// together, or none.
func (c Config) validateCloud() []error {
	var errs []error
	bad := func(field, msg string) { errs = append(errs, &FieldError{Field: field, Msg: msg}) }
	secrets := []struct {
		v    Secret
		name string
	}{{c.CloudAccessToken, envCloudAccessToken}, {c.CloudAppSecret, envCloudAppSecret}, {c.CloudVerifyToken, envCloudVerifyToken}}
	if c.CloudPhoneNumberID == "" {
		for _, s := range secrets {
			if !s.v.IsZero() {
				bad(s.name, "is set but "+envCloudPhoneNumberID+" is not: set the phone number id to run WhatsApp on the WhatsApp Business Platform, or unset this")
			}
		}
		if c.CloudTemplate != "" {
			bad("--whatsapp-cloud-template", "needs "+envCloudPhoneNumberID)
		}
		return errs
	}
	if c.NoWhatsApp {
		bad("--no-whatsapp", "contradicts "+envCloudPhoneNumberID+": unset one of them")
	}
	if strings.Trim(c.CloudPhoneNumberID, "0123456789") != "" || len(c.CloudPhoneNumberID) > 32 {
		bad(envCloudPhoneNumberID, "want the Phone number ID from WhatsApp Manager (digits, such as 106540352242922), not the phone number")
	}
	for _, s := range secrets {
		if s.v.IsZero() {
			bad(s.name, "is required with "+envCloudPhoneNumberID+" (environment or "+s.name+"_FILE)")
		}
	}
	if u, err := url.Parse(c.CloudGraphURL); err != nil || u.Host == "" || u.RawQuery != "" ||
		(u.Scheme != "https" && !(u.Scheme == "http" && isLoopback(u.Hostname()))) {
		bad("--whatsapp-cloud-graph-url", "want an https URL with the version, such as "+whatsappcloud.DefaultGraphURL+" (http only for a loopback host)")
	}
	if c.CloudTemplate != "" && (strings.ContainsAny(c.CloudTemplate, " /\\") || len(c.CloudTemplate) > 512) {
		bad("--whatsapp-cloud-template", "want the template's name as WhatsApp Manager shows it, such as reopen_conversation")
	}
	if c.CloudTemplateLanguage == "" || len(c.CloudTemplateLanguage) > 16 || strings.ContainsAny(c.CloudTemplateLanguage, " /") {
		bad("--whatsapp-cloud-template-language", "want a language code such as en or en_GB")
	}
	switch c.CloudTemplateParams {
	case templateParamsNone, templateParamsFirstName:
	default:
		bad("--whatsapp-cloud-template-params", "want "+templateParamsNone+" or "+templateParamsFirstName+" (the customer's first name as the template's {{1}})")
	}
	return errs
}

// httpURL reports whether s is an absolute http or https URL.
func httpURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// guidLike reports whether s looks like an Entra object or tenant id: hex
// digits in dash-separated groups, as GUIDs are. It is lenient on group
// lengths, since the Agents Playground uses ids such as
// 00000000-0000-0000-0000-0000000000001.
func guidLike(s string) bool {
	if len(s) < 32 || len(s) > 40 || s[0] == '-' || s[len(s)-1] == '-' || strings.Contains(s, "--") {
		return false
	}
	for _, r := range s {
		if !(r == '-' || r >= '0' && r <= '9' || r >= 'a' && r <= 'f' || r >= 'A' && r <= 'F') {
			return false
		}
	}
	return true
}

// isLoopback reports whether host names the loopback interface.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// String renders the configuration for logs and support, secrets redacted.
func (c Config) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "data=%q listen=%q log-level=%s log-format=%q default-country-code=%s no-whatsapp=%t teams-dev=%t",
		c.DataDir, c.Listen, c.LogLevel, c.LogFormat, c.DefaultCC, c.NoWhatsApp, c.TeamsDev)
	fmt.Fprintf(&b, " master-key=%s master-key-file=%q", c.MasterKey, c.MasterKeyFile)
	fmt.Fprintf(&b, " microsoft-app-id=%q microsoft-app-password=%s microsoft-app-tenant-id=%q", c.MicrosoftAppID, c.MicrosoftAppPassword, c.MicrosoftAppTenantID)
	fmt.Fprintf(&b, " openai-api-key=%s openai-base-url=%q openai-model=%q llm-http-host=%q llm=%q", c.OpenAIAPIKey, c.OpenAIBaseURL, c.OpenAIModel, c.LLMHTTPHost, c.LLM.String())
	// The pairing phone and the admins' object ids are personal data: only
	// whether they are set.
	pair := "(unset)"
	if c.WhatsAppPairPhone != "" {
		pair = "(set)"
	}
	fmt.Fprintf(&b, " whatsapp-pair-phone=%s admins=%d staff-tenants=%q public-url=%q retention-months=%d draft-deadline=%s",
		pair, len(c.Admins), strings.Join(c.StaffTenants, ","), c.PublicURL, c.RetentionMonths, c.DraftDeadline)
	fmt.Fprintf(&b, " media-max-bytes=%s document-max-bytes=%s media-max-pixels=%d transcribe-model=%q",
		byteSize(c.MediaMaxBytes), byteSize(c.DocumentMaxBytes), c.MediaMaxPixels, c.TranscribeModel)
	fmt.Fprintf(&b, " whatsapp-transport=%q whatsapp-cloud-phone-number-id=%q whatsapp-cloud-access-token=%s whatsapp-cloud-app-secret=%s whatsapp-cloud-verify-token=%s whatsapp-cloud-graph-url=%q whatsapp-cloud-template=%q whatsapp-cloud-template-language=%q whatsapp-cloud-template-params=%q",
		c.WhatsAppTransport(), c.CloudPhoneNumberID, c.CloudAccessToken, c.CloudAppSecret, c.CloudVerifyToken, c.CloudGraphURL, c.CloudTemplate, c.CloudTemplateLanguage, c.CloudTemplateParams)
	return b.String()
}

// byteSize is a size flag: "16MB", "512KB", "1GB" (1024-based) or bytes.
type byteSize int64

func (b byteSize) String() string {
	switch n := int64(b); {
	case n >= 1<<30 && n%(1<<30) == 0:
		return strconv.FormatInt(n>>30, 10) + "GB"
	case n >= 1<<20 && n%(1<<20) == 0:
		return strconv.FormatInt(n>>20, 10) + "MB"
	case n >= 1<<10 && n%(1<<10) == 0:
		return strconv.FormatInt(n>>10, 10) + "KB"
	default:
		return strconv.FormatInt(n, 10)
	}
}

// Set parses a size.
func (b *byteSize) Set(s string) error {
	s = strings.ToUpper(strings.TrimSpace(s))
	mult := int64(1)
	for _, u := range []struct {
		sfx string
		m   int64
	}{{"GIB", 1 << 30}, {"MIB", 1 << 20}, {"KIB", 1 << 10}, {"GB", 1 << 30}, {"MB", 1 << 20}, {"KB", 1 << 10}, {"B", 1}} {
		if t, ok := strings.CutSuffix(s, u.sfx); ok {
			s, mult = strings.TrimSpace(t), u.m
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || n > (1<<62)/mult {
		return errors.New("want a size such as 16MB")
	}
	*b = byteSize(n * mult)
	return nil
}

// GoString redacts like String, so %#v does not print secrets either.
func (c Config) GoString() string { return "main.Config{" + c.String() + "}" }

// Secret holds a credential. Every way of printing it (fmt verbs, JSON,
// text) shows only whether it is set; Value returns it.
type Secret struct{ v string }

// NewSecret wraps s.
func NewSecret(s string) Secret { return Secret{v: s} }

// Value returns the secret itself. Never log it.
func (s Secret) Value() string { return s.v }

// IsZero reports whether the secret is unset.
func (s Secret) IsZero() bool { return s.v == "" }

// String returns "(set)" or "(unset)".
func (s Secret) String() string {
	if s.v == "" {
		return "(unset)"
	}
	return "(set)"
}

// GoString redacts like String.
func (s Secret) GoString() string { return s.String() }

// Format redacts for every verb, %x and %q included.
func (s Secret) Format(f fmt.State, _ rune) { io.WriteString(f, s.String()) }

// MarshalText redacts, so encoders and zerolog's Interface show no secret.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// clip shortens s to at most n bytes for error messages.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
