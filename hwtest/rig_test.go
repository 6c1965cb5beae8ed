package hwtest

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"dmpkiosk/hwtest/cards"
	"errors"
	"fmt"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"dmpkiosk/apdu/pcsc"
)

// Each virtual card answers SELECT with its slot number, so a test can tell
// that the APDU went through the reader it was sent to.
func slotCard(slot byte) *cards.FuncCard {
	return &cards.FuncCard{
		Answer: []byte{0x3B, 0x02, 0x14, 0x50},
		OnAPDU: func(cmd []byte) []byte {
			if len(cmd) >= 4 && cmd[1] == 0xA4 {
				return []byte{0xC0 | slot, 0x90, 0x00}
			}
			return []byte{0x6D, 0x00}
		},
	}
}

func TestPCSCDTwoSlots(t *testing.T) {
	d := StartPCSCD(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	pc, err := pcsc.Establish()
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Release()
	for slot := 0; slot < Slots; slot++ {
		in, err := cards.Insert(ctx, SlotAddr(slot), slotCard(byte(slot)))
		if err != nil {
			t.Fatal(err)
		}
		if err := d.WaitCard(ctx, slot, true); err != nil {
			t.Fatalf("slot %d: card not seen: %v", slot, err)
		}
		card, err := pc.Connect(ctx, Reader(slot))
		if err != nil {
			t.Fatalf("slot %d: %v", slot, err)
		}
		if !bytes.Equal(card.ATR(), []byte{0x3B, 0x02, 0x14, 0x50}) {
			t.Errorf("slot %d: ATR % X", slot, card.ATR())
		}
		cmd := []byte{0x00, 0xA4, 0x04, 0x00, 0x02, 0x3F, 0x00}
		resp, err := card.Transmit(ctx, cmd)
		if err != nil {
			t.Fatalf("slot %d: %v", slot, err)
		}
		want := []byte{0xC0 | byte(slot), 0x90, 0x00}
		if !bytes.Equal(resp, want) {
			t.Fatalf("slot %d: response % X, want % X", slot, resp, want)
		}
		t.Logf("rig: APDU % X through pcscd to the virtual card in %q answered % X (%s)", cmd, Reader(slot), resp, card.Protocol())

		// Pulled out: the next exchange is a typed error, not a hang.
		in.Remove()
		if err := d.WaitCard(ctx, slot, false); err != nil {
			t.Fatalf("slot %d: removal not seen: %v", slot, err)
		}
		if _, err := card.Transmit(ctx, cmd); !errors.Is(err, pcsc.ErrCardRemoved) {
			t.Fatalf("slot %d: transmit after removal: %v, want ErrCardRemoved", slot, err)
		}
		_ = card.Close()
	}
}

func TestMosquittoMutualTLS(t *testing.T) {
	m := StartMosquitto(t, "pattern readwrite rig/%u/#\n")
	connect := func(name string, cfg *tls.Config) (mqtt.Client, error) {
		opts := mqtt.NewClientOptions().AddBroker(m.URL()).SetClientID(name).
			SetTLSConfig(cfg).SetConnectTimeout(5 * time.Second).SetAutoReconnect(false)
		c := mqtt.NewClient(opts)
		tok := c.Connect()
		if !tok.WaitTimeout(10 * time.Second) {
			return nil, errors.New("connect timed out")
		}
		return c, tok.Error()
	}
	c, err := connect("alpha", m.ClientTLS(t, "alpha"))
	if err != nil {
		t.Fatalf("connect with a certificate of the broker's CA: %v\n%s", err, m.Log())
	}
	defer c.Disconnect(100)
	got := make(chan []byte, 1)
	if tok := c.Subscribe("rig/alpha/echo", 1, func(_ mqtt.Client, msg mqtt.Message) { got <- msg.Payload() }); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe: %v", tok.Error())
	}
	payload := []byte("bonjour")
	if tok := c.Publish("rig/alpha/echo", 1, false, payload); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("publish: %v", tok.Error())
	}
	select {
	case p := <-got:
		if !bytes.Equal(p, payload) {
			t.Fatalf("received %q, want %q", p, payload)
		}
		t.Logf("rig: MQTT QoS 1 message over mutual TLS through mosquitto at %s received", m.Addr)
	case <-time.After(10 * time.Second):
		t.Fatal("message not received")
	}

	// A certificate from another CA must be refused by the broker.
	foreign := NewCA(t, "someone else's CA").Client(t, "alpha")
	cfg := m.ClientTLS(t, "alpha")
	cfg.Certificates = []tls.Certificate{foreign.TLS()}
	if c2, err := connect("intruder", cfg); err == nil {
		c2.Disconnect(0)
		t.Fatal("a client certificate from a foreign CA was accepted")
	}
}

func TestSoftHSMSignatures(t *testing.T) {
	tk := NewSoftHSM(t, "rig")
	digest := sha256.Sum256([]byte("événement dmp.create"))

	ec := tk.ECDSASigner(t, "device")
	sig, err := ec.Sign(nil, digest[:], crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	if !ecdsa.VerifyASN1(ec.Public().(*ecdsa.PublicKey), digest[:], sig) {
		t.Fatal("ECDSA signature from SoftHSM does not verify")
	}
	tampered := digest
	tampered[0] ^= 1
	if ecdsa.VerifyASN1(ec.Public().(*ecdsa.PublicKey), tampered[:], sig) {
		t.Fatal("ECDSA signature verifies a different digest")
	}

	rs := tk.RSASigner(t, "org-sign", 2048)
	rsig, err := rs.Sign(nil, digest[:], crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	if err := rsa.VerifyPKCS1v15(rs.Public().(*rsa.PublicKey), crypto.SHA256, digest[:], rsig); err != nil {
		t.Fatalf("RSA signature from SoftHSM: %v", err)
	}
	t.Logf("rig: %s", fmt.Sprintf("ECDSA P-256 and RSA-2048 signatures made by SoftHSM token %q through PKCS#11 verified", tk.Label))
}
