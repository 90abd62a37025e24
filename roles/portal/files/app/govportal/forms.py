from django import forms

from govportal.models import Complaint


class ComplaintForm(forms.ModelForm):
    class Meta:
        model = Complaint
        fields = ["kind", "name", "email", "subject", "message", "attachment"]
