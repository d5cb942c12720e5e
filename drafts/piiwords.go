package drafts

import "strings"

// Word lists the redactor uses to read names, dates and addresses. They are
// lower case; lookups fold case.

func wordSet(lists ...string) map[string]bool {
	m := make(map[string]bool, 512)
	for _, l := range lists {
		for _, w := range strings.Fields(l) {
			m[w] = true
		}
	}
	return m
}

// commonNameWords are first names and surnames that are also everyday
// words. A known name made of one of them is redacted only where it reads as
// a name: capitalised and not opening a sentence, or after a greeting or a
// title ("Hi Will", "Mr Price"), never in "Will you come?" or "the price".
var commonNameWords = wordSet(`
will bill mark may june april august rose grace hope joy faith summer dawn sky violet lily ruby amber jade
pearl iris holly ivy daisy heather olive autumn winter frank earnest art pat sue don dean gene guy jack rob
nick chase drew grant hunter carter mason miles sterling penny ray rich rusty sandy stone wood woods hall
king young white black brown green grey gray long short little small bell page price cash hill lane field
ford church marsh moss bush park love star sunny angel honey bean cook baker taylor fisher porter turner
walker cooper butler parker ward wells waters rivers banks lake north west south east best good hardy
strong sharp swift bright fair moody noble major judge bishop chance christian rich clay cliff glen dale
heath forest river storm rain snow sol van wolf fox lamb bird crane swan drake may-be lord duke earl
sweet cross hay haven trinity destiny harmony melody liberty miracle precious unique
`)

// sentenceNameWords are the common words among them that often open a
// sentence ("Will you…", "Mark the stopcock", "Bishop's Stortford…"): as a
// name they are redacted only inside a sentence. The others ("Grace",
// "Ruby") count wherever they are capitalised.
var sentenceNameWords = wordSet(`
will bill mark may june april august hope joy faith summer winter autumn dawn frank art pat sue don dean guy
jack rob nick chase drew grant hunter miles sterling penny ray rich stone wood hall king young white black
brown green grey gray long short little small bell page price cash hill lane field ford church park love
star sunny cook baker ward wells banks lake north west south east best good hardy strong sharp swift
bright fair moody noble major judge bishop chance cross sweet rain snow storm lord duke earl
`)

// nameParticles are parts of names never redacted alone: "de" in "Emma de
// Vries" goes with the name, but "de" by itself is a word.
var nameParticles = wordSet(`de da di del della dos das do du des van von der den ter ten la le el al bin ibn
bint st ste mc mac o y e und and`)

// titles precede a surname: "Mrs Patel". Matched with or without a dot.
var titles = wordSet(`mr mrs ms miss mx dr prof sir dame lady lord rev revd fr herr frau mme mlle madame
monsieur sr sra srta señor señora sig signor signora pan pani dhr mevr`)

// notNames are capitalised words that follow greetings, sign-offs and
// introductions without being names ("Hi there", "Thanks Brightwater" is
// handled by the profile's own words, "I'm British").
var notNames = wordSet(`
i i'm im i've i'd i'll we you he she they it its it's the a an and or but so if is are was were be been am
do does did can could would should will shall may might must have has had not no yes yeah ok okay please
thanks thank sorry hi hello hey dear just also there here this that these those what when where who why how
all any some every everyone everybody anyone someone team sir madam madame mister friend friends guys folks
again soon today tomorrow tonight yesterday morning afternoon evening night christmas xmas easter new year
bank holiday weekend week month next last first second third
monday tuesday wednesday thursday friday saturday sunday mon tue tues wed thu thur thurs fri sat sun
january february march april june july august september october november december
jan feb mar apr jun jul aug sep sept oct nov dec
british english scottish welsh irish french german polish spanish italian portuguese dutch american
european indian chinese russian turkish greek swedish danish norwegian finnish romanian
boiler plumber engineer office reception customer service gas safe water heating emergency urgent
interested looking available free home back out away in at on of to for from with by fine good great
happy glad very really still well sure afraid done ready calling writing messaging texting sending
worcester bosch vaillant baxi ideal hive nest grohe screwfix tesco google whatsapp teams
my your our their his her him them me us
`)

// greetings open a message or a reply: a capitalised word after one is
// read as a name.
const greetingWords = `hi|hello|hey|hiya|dear|morning|good morning|good afternoon|good evening|evening|afternoon|` +
	`bonjour|hola|hallo|ciao|olá|ola|hej|hoi|salut|salam|merhaba|buongiorno|buenos días|guten tag|dzień dobry|здравствуйте|привет`

// signOffs close a message: "Thanks, Jane", "Kind regards\nJane Doe".
const signOffWords = `thanks|thank you|thankyou|thanks so much|thanks again|many thanks|cheers|regards|kind regards|best regards|` +
	`warm regards|best wishes|yours sincerely|yours faithfully|yours truly|sincerely|speak soon|all the best|` +
	`merci|gracias|grazie|danke|obrigado|obrigada|tack|dziękuję|dzięki|bedankt|dank je|спасибо`

// bareSignOffs need a comma or a line break before the name ("Best, Jo"),
// since "best" and "love" are ordinary words.
const bareSignOffWords = `best|love|ta|bye`

// introductions say a name outright; the name may be typed in lower case.
const strongIntroWords = `my name is|my name's|my names|name's|name is|call me|je m'appelle|me llamo|ich heiße|ich heisse|` +
	`mi chiamo|nazywam się|mijn naam is|jag heter|меня зовут`

// weakIntros ("I'm", "this is") are followed by a name only when the name
// ends the clause: "I'm Tariq from number 6", not "It's Baxi 600".
const weakIntroWords = `i am|i'm|im|this is|it's|its|it is|je suis|soy|ich bin|sono|sou a|sou o|sou|jestem|ik ben|ben`

// relations and roles precede a name: "my wife Ngozi", "your colleague Dave".
const relationWords = `colleague|husband|wife|partner|son|daughter|mum|mom|mother|dad|father|friend|neighbour|neighbor|` +
	`landlord|landlady|tenant|brother|sister|boss|manager|engineer|plumber|electrician|fitter|technician|girlfriend|` +
	`boyfriend|fiancé|fiancée|fiance|fiancee|grandson|granddaughter|grandma|grandad|grandpa|granny|nana|gran|uncle|` +
	`aunt|auntie|cousin|flatmate|housemate|roommate|carer|lodger|agent|named|guy called|man called|woman called|` +
	`lady called|bloke called|chap called|colleague called|someone called|mari|femme|marido|esposa|mann|frau|moglie|marito`

// verbs that take a person: "speak to Lisa", "tell her Dave will ring".
const personVerbWords = `ask for|ask|speak to|speak with|talk to|talk with|spoke to|spoke with|spoken to|spoken with|tell|told|` +
	`thank|ring|call|text|email|cc|attn|fao|for the attention of|c/o|care of|sign off as|sign it off as|sign as|` +
	`signed|address him as|address her as|address them as|call him|call her|call them|say|mention that|mention|` +
	`apologise that|apologize that|ask if|ask whether|remind`

// here words follow a name at the start: "Jane here", "Olga again".
const hereWords = `here|again|speaking|hier|ici|aquí|aqui|qui|här|tutaj|hoy`

// monthNames in the languages customers write in, for dates of birth.
const monthNames = `january|february|march|april|may|june|july|august|september|october|november|december|` +
	`jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec|` +
	`janvier|février|fevrier|mars|avril|mai|juin|juillet|août|aout|septembre|octobre|novembre|décembre|decembre|` +
	`januar|februar|märz|maerz|juni|juli|oktober|dezember|` +
	`enero|febrero|marzo|abril|mayo|junio|julio|agosto|septiembre|setiembre|octubre|noviembre|diciembre|` +
	`gennaio|febbraio|aprile|maggio|giugno|luglio|settembre|ottobre|dicembre|` +
	`janeiro|fevereiro|março|marco|maio|junho|julho|setembro|outubro|dezembro|` +
	`januari|februari|maart|mei|augustus|` +
	`stycznia|lutego|marca|kwietnia|maja|czerwca|lipca|sierpnia|września|wrzesnia|października|pazdziernika|listopada|grudnia`

// functionWords never sit inside a street name typed in lower case
// ("2 cars on the road" is not an address).
var functionWords = wordSet(`in on at of to for from with by the a an and or is are was be it this that my your
our his her their we you they i me us them as into onto over under near by behind`)
