"""The bulk forms of the account listings: add the selected accounts to a case, or open a
new case on them. The services apply the rules; these check the input."""

from django import forms

from cases.accounts.selectors import open_cases_for_adding
from cases.models import Case
from cases.services.accounts import MAX_BULK_ACCOUNTS
from detection.models import Account


class AccountsField(forms.ModelMultipleChoiceField):
    def clean(self, value):
        if value and len(value) > MAX_BULK_ACCOUNTS:
            raise forms.ValidationError(f"select at most {MAX_BULK_ACCOUNTS} accounts")
        return super().clean(value)


class _SelectedAccountsForm(forms.Form):
    accounts = AccountsField(
        queryset=Account.objects.only("account_id"),
        error_messages={"required": "Select at least one account."},
    )
    reason = forms.CharField(max_length=2000)
    next = forms.CharField(required=False)


class AddToCaseForm(_SelectedAccountsForm):
    case = forms.ModelChoiceField(queryset=Case.objects.none(), empty_label=None)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["case"].queryset = open_cases_for_adding(user)


class OpenCaseForm(_SelectedAccountsForm):
    title = forms.CharField(max_length=255)
