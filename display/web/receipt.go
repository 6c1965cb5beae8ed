package web

import "html/template"

// receiptTmpl is the receipt as a page the tablet prints: the paper's
// width on screen, the print button hidden on paper.
var receiptTmpl = template.Must(template.New("receipt").Parse(`<!doctype html>
<html lang="{{.Lang}}" dir="{{.Dir}}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Reçu DMP</title>
<style>
  body { font: 16px/1.4 "DejaVu Sans", system-ui, sans-serif; margin: 16px auto; max-width: 80mm; color: #000; }
  p { margin: 0 0 4px; } .b { font-weight: 700; } .big { font-size: 1.5em; } .c { text-align: center; }
  hr { border: 0; border-top: 2px solid #000; }
  button { font: inherit; font-weight: 600; padding: 10px 16px; margin-top: 12px; }
  @media print { button { display: none; } body { margin: 0; } @page { size: 80mm auto; margin: 4mm; } }
</style>
</head>
<body>
<main id="receipt">
{{range .Lines}}{{if .Rule}}<hr>{{else}}<p class="{{if .Bold}}b {{end}}{{if .Big}}big {{end}}{{if .Center}}c{{end}}">{{.Text}}</p>{{end}}
{{end}}</main>
<button id="print" onclick="window.print()">Imprimer</button>
</body>
</html>
`))
