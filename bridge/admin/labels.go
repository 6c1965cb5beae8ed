package admin

import (
	"dmpkiosk/bridge/journal"

	"dmpkiosk/bridge/insi"
	"dmpkiosk/firmware/event"
)

// What the admin web and the exports show the IT team and the DMP project
// lead: every state, outcome, type, context and reason in plain French.
var (
	stateLabels = map[string]string{
		journal.StateVerified: "en attente de traitement", journal.StateProcessing: "en cours de traitement", journal.StateDone: "traité",
		journal.StateFailed: "en échec, nouvelle tentative prévue", journal.StateDead: "lettre morte (abandonné)", journal.StateRefused: "refusé aux contrôles",
	}
	outcomeLabels = map[string]string{
		event.OutcomeCreated: "DMP créé", event.OutcomeAuthorized: "accès de l'établissement autorisé",
		event.OutcomeExists: "DMP déjà existant", event.OutcomeRefused: "refusé", event.OutcomeError: "erreur",
		event.OutcomeIdentity: "identité à vérifier (pas de transaction DMP)",
	}
	typeLabels = map[string]string{
		event.TypeCreate:  "création du DMP (avec consentement)",
		event.TypeConsent: "information, autorisation et oppositions",
	}
	contextLabels = map[string]string{"admission": "Admission", "bedside": "Chambre (tablette)", "consultation-exit": "Sortie de consultation"}
	reasonLabels  = map[string]string{
		journal.RejectTopic: "sujet MQTT d'une autre borne", journal.RejectMalformed: "message illisible", journal.RejectUndecrypt: "message indéchiffrable",
		journal.RejectSignature: "signature invalide", journal.RejectDeviceChain: "certificat de borne non reconnu", journal.RejectRevoked: "borne révoquée",
		journal.RejectDevice: "borne autre que son certificat", journal.RejectCardChain: "carte professionnelle non reconnue",
		journal.RejectCardType: "type de carte non admis", journal.RejectProfessional: "professionnel autre que la carte",
		journal.RejectClock: "horloge de la borne en avance", journal.RejectTooOld: "trop ancien", journal.RejectReplay: "rejoué",
		journal.RejectContent: "demande incomplète", journal.RejectTooLarge: "message trop volumineux", journal.RejectReused: "identifiant réutilisé",
		journal.RejectSite: "borne non inscrite pour ce site", journal.RejectRegime: "régime du DMP différent", journal.RejectRateLimited: "débit de la borne dépassé",
		journal.RejectINS: "INS autre que celui donné par l'INSi",
	}
	insiOperationLabels = map[string]string{insi.OpVitale: "recherche par carte Vitale", insi.OpTraits: "recherche par traits d'identité"}
	insiModeLabels      = map[string]string{insi.Manu.String(): "au guichet (INSI-MANU)", insi.Auto.String(): "par la passerelle (INSI-AUTO)"}
	insiOutcomeLabels   = map[string]string{
		"00": "identité trouvée", "01": "aucune identité trouvée", "02": "plusieurs identités : préciser le lieu de naissance",
		"transport": "service injoignable", "unreadable": "réponse illisible", "inconsistent": "réponse incohérente",
	}
	deskLookupLabels = map[string]string{
		event.LookupFound: "identité trouvée", event.LookupNotFound: "aucune identité trouvée", event.LookupSeveral: "plusieurs identités",
		event.LookupUnavailable: "INSi indisponible", event.LookupRefused: "non demandée (traits insuffisants, demande trop ancienne)",
	}
	// The documents' types the establishment's financing counts (Ségur
	// SUN-ES, docs/feeding.md), by their J07 (LOINC) code.
	docTypeLabels = map[string]string{
		"11490-0": "lettre de liaison de sortie", "34874-8": "compte rendu opératoire", "18748-4": "compte rendu d'imagerie",
		"11502-2": "compte rendu de biologie", "57833-6": "ordonnance de sortie",
	}
	docKindLabels = map[string]string{
		"T02": "premier envoi (MDM^T02)", "T10": "remplacement (MDM^T10)", "T04": "suppression (MDM^T04)",
		"R01/F": "premier envoi (ORU^R01)", "R01/C": "remplacement (ORU^R01)", "R01/D": "suppression (ORU^R01)",
	}
	docStateLabels = map[string]string{
		journal.DocReceived: "reçu et acquitté, à envoyer", journal.DocWaiting: "en attente d'autorisation du patient",
		journal.DocRetry: "en échec, nouvelle tentative prévue", journal.DocSent: "envoyé au DMP", journal.DocHeld: "retenu (non envoyé)",
		journal.DocRefused: "refusé",
	}
	consultActionLabels = map[string]string{event.ConsultList: "liste des documents", event.ConsultDocument: "document",
		event.ConsultAuthorize: "accord du patient"}
	consultOutcomeLabels = map[string]string{event.ConsultNoDMP: "refusé : pas de DMP", event.ConsultNotAuthorized: "établissement non autorisé",
		event.ConsultForbidden: "refusé par le DMP", event.ConsultUnavailable: "DMP indisponible", event.ConsultUnreadable: "document non affichable",
		event.ConsultRefused: "refusé par la passerelle"}
	periodLabels = map[string]string{"day": "jour", "week": "semaine", "month": "mois", "range": "toute la période"}
)

// label names k from m; an empty k is "non précisé", an unknown one is
// shown as it is.
func label(m map[string]string, k string) string {
	if l, ok := m[k]; ok {
		return l
	}
	if k == "" {
		return "non précisé"
	}
	return k
}

// insiOutcomeLabel names an INSi call's outcome; a fault is named with
// its code, which the teleservice's documentation lists.
func insiOutcomeLabel(o string) string {
	if l, ok := insiOutcomeLabels[o]; ok {
		return l
	}
	return "erreur INSi " + o
}
