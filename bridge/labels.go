package bridge

import (
	"strings"

	"dmpkiosk/bridge/insi"
	"dmpkiosk/firmware/event"
)

// What the admin web and the exports show the IT team and the DMP project
// lead: every state, outcome, type, context and reason in plain French.
var (
	stateLabels = map[string]string{
		StateVerified: "en attente de traitement", StateProcessing: "en cours de traitement", StateDone: "traité",
		StateFailed: "en échec, nouvelle tentative prévue", StateDead: "lettre morte (abandonné)", StateRefused: "refusé aux contrôles",
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
		RejectTopic: "sujet MQTT d'une autre borne", RejectMalformed: "message illisible", RejectUndecrypt: "message indéchiffrable",
		RejectSignature: "signature invalide", RejectDeviceChain: "certificat de borne non reconnu", RejectRevoked: "borne révoquée",
		RejectDevice: "borne autre que son certificat", RejectCardChain: "carte professionnelle non reconnue",
		RejectCardType: "type de carte non admis", RejectProfessional: "professionnel autre que la carte",
		RejectClock: "horloge de la borne en avance", RejectTooOld: "trop ancien", RejectReplay: "rejoué",
		RejectContent: "demande incomplète", RejectTooLarge: "message trop volumineux", RejectReused: "identifiant réutilisé",
		RejectSite: "borne non inscrite pour ce site", RejectRegime: "régime du DMP différent", RejectRateLimited: "débit de la borne dépassé",
		RejectINS: "INS autre que celui donné par l'INSi",
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

// reasonOf is the reason a refused record was refused for (the prefix of
// its LastError).
func reasonOf(r Record) string {
	reason, _, _ := strings.Cut(r.LastError, ":")
	return reason
}
