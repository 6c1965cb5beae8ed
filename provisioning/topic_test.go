package provisioning

import "testing"

// A kiosk's own topics give its id back; others, or a kind not asked for,
// give none.
func TestKioskOf(t *testing.T) {
	for _, id := range []string{"kiosk-1", "tablette-cardio-2"} {
		for kind, topic := range map[string]string{"events": EventsTopic(id), "insi": LookupTopic(id), "dmp": ConsultTopic(id)} {
			if got, ok := KioskOf(topic, kind); !ok || got != id {
				t.Errorf("%s as %s: %q %v", topic, kind, got, ok)
			}
		}
	}
	for _, topic := range []string{"kiosk/kiosk-1/insi", "kiosk/kiosk-1/dmp/x", "bridge/kiosk-1/dmp", "kiosk//dmp", "kiosk/../dmp", "kiosk/a+b/dmp"} {
		if got, ok := KioskOf(topic, "dmp"); ok {
			t.Errorf("%s taken as %q's", topic, got)
		}
	}
}
