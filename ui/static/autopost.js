// Submits the auto-post form (OIDC form_post, SAML POST binding) at once;
// without JavaScript the page's Continue button does the same.
document.querySelector("form[data-autopost]").submit();
