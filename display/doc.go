// Package display owns what the kiosk shows: one screen model for the whole
// session, rendered into an image.Image at the sizes of the supported panels
// (SSD1306 OLED, ST7789/ILI9341 TFT, tablet web view), and the drivers that
// put that image on a panel or a web page.
//
// It knows nothing of cards or MQTT: the firmware hands it screens.
package display
