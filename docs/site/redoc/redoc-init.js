/* ReDoc for mod_issuetracker: everything same-origin, nothing from a CDN.
 * Kept out of index.html so that a Content-Security-Policy of script-src 'self' works.
 * The standalone bundle loads no web fonts by itself (only redoc-cli's HTML template links
 * Google Fonts); the theme below names system font stacks so nothing is fetched for text. */
(function () {
  "use strict";
  var sans = "system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif";
  var mono = "ui-monospace, SFMono-Regular, Menlo, Consolas, 'Liberation Mono', monospace";
  Redoc.init("/openapi.json", {
    hideDownloadButton: false,
    downloadFileName: "openapi.json",
    expandResponses: "200,201",
    requiredPropsFirst: true,
    sortPropsAlphabetically: false,
    pathInMiddlePanel: true,
    jsonSampleExpandLevel: 3,
    theme: {
      typography: {
        fontFamily: sans,
        headings: { fontFamily: sans },
        code: { fontFamily: mono }
      }
    }
  }, document.getElementById("redoc-container"));
})();
