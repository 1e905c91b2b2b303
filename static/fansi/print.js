/* The print page's button (CSP allows no inline onclick). */
document.addEventListener("click", function (e) {
  if (e.target && e.target.hasAttribute && e.target.hasAttribute("data-print")) window.print();
});
