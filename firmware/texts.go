package firmware

import "dmpkiosk/firmware/event"

// What the session's screens say: the French texts in one place.
const (
	txtCardPulled         = "Carte retirée : la saisie est annulée, rien n'a été envoyé."
	txtReaderGone         = "Lecteur de cartes indisponible : la saisie est annulée, rien n'a été envoyé. Il revient de lui-même ; sinon, prévenez le service informatique."
	txtInsertProCard      = "Insérez la carte professionnelle"
	txtInsertVitale       = "Insérez la carte Vitale du patient"
	txtVitaleExpiredTitle = "Carte Vitale expirée"
	txtVitaleExpiredBody  = "Demandez au patient une carte à jour ; l'identité ne peut pas être lue sur celle-ci."
	txtProExpiredTitle    = "Carte professionnelle expirée"
	txtProExpiredBody     = "Utilisez une carte en cours de validité."
	txtDirectorTitle      = "Carte de directeur"
	txtDirectorBody       = "Le recueil du consentement se fait avec une carte CPS, CPF ou CPE."
	txtBlockedTitle       = "Carte bloquée"
	txtBlockedBody        = "Trop de codes faux. Débloquez-la avec son code de déblocage."
	txtPINOnPad           = "Saisissez le code sur le clavier du lecteur de carte, puis validez sur le lecteur."
	txtPINShortTitle      = "Code incomplet"
	txtPINShortBody       = "Le code compte 4 à 8 chiffres."
	txtCardUnknown        = "Carte non reconnue"
	txtCardRemoved        = "Carte retirée"
	txtCardUnreadable     = "Carte illisible"
	txtCancelledTitle     = "Annulé"
	txtCancelledBody      = "Aucune donnée n'a été envoyée. Retirez les cartes."
	txtTimeoutTitle       = "Délai dépassé"
	txtTimeoutBody        = "La saisie a été abandonnée. Retirez les cartes pour recommencer."
	txtBorn               = "Né(e) le "
	txtRank               = " (rang %d)"
	txtName               = "Nom : "
	txtFirstName          = "Prénom : "
	txtBadNIRKey          = "Attention : le NIR de la carte a une clé invalide."
	txtDocumentQuestion   = "Une pièce d'identité a-t-elle été vérifiée ?"
	txtWhichDocument      = "Quelle pièce d'identité ?"
	txtDocumentTitle      = "Pièce d'identité"
	txtNotInformedTitle   = "Patient non informé"
	txtNotInformedBody    = "Remettez d'abord la brochure d'information sur le DMP, puis recommencez."
	txtClockTitle         = "Horloge de la borne incorrecte"
	txtClockBody          = "La date de la borne est fausse : la demande serait refusée. Rien n'a été envoyé ; prévenez le support informatique."
	txtImpossibleTitle    = "Demande impossible"
	txtNoSignatureTitle   = "Signature impossible"
	txtNotSignedBody      = "La carte n'a pas signé la demande. Réinsérez-la et recommencez."
	txtNotStoredTitle     = "Demande non enregistrée"
	txtNotStoredBody      = "La borne n'a pas pu enregistrer la demande. Prévenez le support informatique."
	txtOutboxFullBody     = "La file d'attente de la borne est pleine (réseau coupé depuis longtemps). Prévenez le support informatique."
	txtCreated            = "DMP créé"
	txtAuthorized         = "Autorisation enregistrée"
	txtExists             = "Le DMP existe déjà"
	txtNoAccess           = "Pas d'accès au DMP"
	txtProcessingError    = "Erreur de traitement"
	txtIdentityToCheck    = "Identité à vérifier"
	txtNextPatient        = "Patient suivant : insérez sa carte Vitale"
	txtPINEachSignature   = "Cette carte demande son code pour chaque signature : saisissez-le pour signer la demande."
	txtSignedOut          = "Carte professionnelle retirée : déconnecté. Le code sera demandé à la prochaine carte."
	txtLockedIdle         = "Borne verrouillée après une période sans activité : saisissez à nouveau le code de la carte professionnelle."
	txtLockedHour         = "Borne verrouillée (heure de fin de vacation) : saisissez à nouveau le code de la carte professionnelle."
	txtWaitCards          = "Lecture des cartes"
	txtWaitINSi           = "Réponse du téléservice INSi"
	txtWaitBridge         = "Réponse de l'établissement et du DMP"
	txtReceiptFailed      = "Reçu non imprimé (%v). L'enregistrement est fait : le patient peut retrouver ces informations dans Mon espace santé."
	txtMarkDoubtful       = "Identité douteuse (pas de recherche INSi)"
	txtMarkFictitious     = "Identité fictive (pas de recherche INSi)"

	txtINSiBirthName        = "Nom de naissance : "
	txtINSiFirstNames       = "Prénoms : "
	txtINSiSex              = "Sexe : "
	txtINSiBirthPlace       = "Lieu de naissance : "
	txtINSiCompare          = "Identique à la pièce d'identité (%s) ?"
	txtINSiNoDocument       = "Aucune pièce vérifiée : retenue, l'identité sera récupérée, non qualifiée. La retenir ?"
	txtINSiDifferentTitle   = "Identité différente"
	txtINSiDifferentBody    = "L'identité INSi n'est pas retenue : l'identité reste non qualifiée et aucune transaction DMP ne sera faite. Vérifiez la pièce d'identité et signalez l'écart à la cellule d'identitovigilance."
	txtINSiNotFoundTitle    = "Identité non trouvée par l'INSi"
	txtINSiNotFoundBody     = "L'identité reste provisoire. Vérifiez l'orthographe des noms et la date de naissance sur la pièce d'identité, puis recherchez à nouveau lors d'une prochaine venue."
	txtINSiSeveralTitle     = "Plusieurs identités possibles"
	txtINSiSeveralAgainBody = "Même avec le lieu de naissance, l'INSi trouve plusieurs identités : l'identité reste provisoire ; la cellule d'identitovigilance la vérifiera."
	txtINSiUnavailableTitle = "INSi indisponible"
	txtINSiUnavailableBody  = "L'identité reste provisoire pour l'instant ; l'établissement la recherchera en traitant la demande."
	txtINSiSlowTitle        = "L'INSi ne répond pas à temps"
	txtINSiSlowBody         = "L'identité reste provisoire pour l'instant ; l'établissement la recherchera en traitant la demande. Vous pouvez continuer."
	txtINSiNotAskedTitle    = "Recherche INSi impossible"
	txtINSiNotAskedBody     = "Les informations de la carte ne suffisent pas, ou la borne n'a pas pu envoyer la demande : l'identité reste provisoire ; l'établissement la recherchera."
)

// Documents the professional may confirm, in the order offered.
var documents = []struct{ code, label string }{
	{"passport", "Passeport"}, {"id-card", "Carte nationale d'identité"}, {"residence-permit", "Titre de séjour"},
}

// questionID names a consent question, so that the event reads its answer
// by name.
type questionID int

const (
	qInformed questionID = iota
	qCreation
	qAuthorization
	qBrisDeGlace
	qEmergency
)

type question struct {
	id      questionID
	text    string
	answers []string // first answer = true
	def     int
}

// questionsFor are the questions of a regime, in the order asked.
// pagesShown: the patient read the information pages on the kiosk.
func questionsFor(regime string, pagesShown bool) []question {
	informed := "Le patient a-t-il été informé sur le DMP (brochure remise) ?"
	if pagesShown {
		informed = "Le patient a-t-il été informé sur le DMP (pages d'information lues) ?"
	}
	qs := []question{{id: qInformed, text: informed, answers: []string{"Oui", "Non"}}}
	if regime == event.RegimeLegacy {
		qs = append(qs, question{id: qCreation, text: "Le patient consent-il à la création de son DMP ?", answers: []string{"Oui", "Non"}})
	}
	return append(qs,
		question{id: qAuthorization, text: "Le patient autorise-t-il l'établissement à accéder à son DMP ?", answers: []string{"Oui", "Non"}},
		question{id: qBrisDeGlace, text: "Accès en urgence (bris de glace) : le patient s'y oppose-t-il ?", answers: []string{"Oui, il s'y oppose", "Non, accès autorisé"}, def: 1},
		question{id: qEmergency, text: "Accès par le SAMU (centre 15) : le patient s'y oppose-t-il ?", answers: []string{"Oui, il s'y oppose", "Non, accès autorisé"}, def: 1},
	)
}
